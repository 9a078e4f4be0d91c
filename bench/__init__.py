"""`make bench`: measures the performance budgets of ../shared/design.md and writes docs/benchmarks.md.

Tests time nothing; this does. Each measurement is one module here and runs in its own process
(python -m bench --section NAME), so one measurement's emulator state cannot slow another's.
Budgets live in bench/budgets.py, in one place.
"""
