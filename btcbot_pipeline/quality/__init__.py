"""Data-quality gates: suites and exact rules (:mod:`.rules`, pure) run through Great
Expectations (:mod:`.expectations`, the only GE import) by the cycle assets and the doctor."""
