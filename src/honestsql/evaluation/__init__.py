"""The evaluation harness: datasets, execution matching, honesty-aware metrics, reports."""
