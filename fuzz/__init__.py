"""Coverage-guided fuzzing of rodata's readers and tokenizers (see docs/fuzzing.md).

``python -m fuzz.run --target NAME --minutes N`` runs one target; the targets live in
:mod:`fuzz.targets`, the known open findings in :mod:`fuzz.outcome`."""
