"""End-to-end throughput benchmark: the real `buddycheck run` against a local fake Bot API.

Run `python -m benchmarks.run --help`; docs/benchmarks.md explains the workloads and what
each column of BENCHMARKS.md means.
"""
