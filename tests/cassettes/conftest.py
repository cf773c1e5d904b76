"""Every cassette test runs under the loopback net, with no proxy variables."""

from __future__ import annotations

from tests.support import clients, loopback_net

loopback_network = loopback_net.loopback_network
net = clients.net
