"""Benchmarks: aiointercept against a plain aiohttp floor and other mocks.

Run them with ``nox -s bench`` (see ``benchmarks/run.py``). Each ``impl_*``
module runs in the virtualenv of the implementation it measures and writes its
samples as JSON; ``run.py`` creates those virtualenvs, runs the modules in
interleaved rounds, and reports the medians.
"""
