# The two commands of the README, the setup both run first, and the benchmarks.
.PHONY: demo test setup bench
demo:
	@scripts/demo
test:
	@scripts/test
setup:
	@scripts/setup
bench:
	@scripts/bench
