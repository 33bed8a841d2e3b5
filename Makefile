# The two commands of the README, the setup both run first, the benchmarks, and the demo on several
# nodes (PostgreSQL and nginx).
.PHONY: demo test setup bench cluster
demo:
	@scripts/demo
test:
	@scripts/test
setup:
	@scripts/setup
bench:
	@scripts/bench
cluster:
	@scripts/cluster
