"""Client certificates for the mutual TLS tests: one issued by the authority
a host requires, one by an authority the host does not know."""

from __future__ import annotations

import trustme

__all__ = ["ALICE", "CLIENT_CA", "MALLORY", "STRANGER_CA"]

#: The certificate authority of the clients, and one that the host does not
#: know.
CLIENT_CA = trustme.CA(organization_name="Example")
STRANGER_CA = trustme.CA(organization_name="Stranger")
ALICE = CLIENT_CA.issue_cert(
    "alice.example.org",
    common_name="alice",
    organization_unit_name="Payments",
    organization_name="Example",
)
MALLORY = STRANGER_CA.issue_cert("mallory.example.org", common_name="mallory")
