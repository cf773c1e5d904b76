"""Cassettes: real traffic recorded once, in vcrpy's YAML format, then replayed.

A block built with ``cassette=`` owns a :class:`.cassette.CassetteRun`. Read in
this order:

- :mod:`.options`: the block's cassette arguments, checked, and the record
  modes (:class:`.options.RecordMode`);
- :mod:`.files`: the file's text, YAML or JSON, parsed, dumped and written
  whole;
- :mod:`.format`: the file's schema, read and written (vcrpy's format,
  version 1);
- :mod:`.structured`: JSON bodies written as values
  (``json_bodies="structured"``), and read back to their exact bytes;
- :mod:`.streams`: the chunks (and pauses) of streamed bodies;
- :mod:`.matching`: vcrpy's matchers, and the index that finds the recorded
  requests a live one may replay;
- :mod:`.scrubbing`: the secrets replaced by ``SCRUBBED`` in what is
  recorded, and left out of what is matched (``scrub_secrets``);
- :mod:`.filters`: what is written down of a request and a response (the
  scrubbing, the ``filter_*`` options and the ``before_record_*`` hooks);
- :mod:`.hooks`: whole interactions changed as the file is read and written
  (``after_load_interaction``, ``before_save_interaction``,
  ``filter_sensitive_data``);
- :mod:`.player`: replaying, for the requests no route answered;
- :mod:`.recorder`: recording what the passthrough proxy relays, and writing
  the file at the block's exit;
- :mod:`.verifier`: comparing what it relays with the recording instead
  (``record_mode="verify"``);
- :mod:`.usage`: which interactions the blocks of a pytest run played
  (``--aiointercept-unused``);
- :mod:`.cassette`: the player and the recorder over one file, as the rest of
  aiointercept sees them;
- :mod:`.view`: what a test reads of it (``m.cassette``).

Nothing is imported here: ``aiointercept.CassetteRequest`` loads
:mod:`.format` alone.
"""
