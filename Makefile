# The two commands of the README, and the setup both run first.
.PHONY: demo test setup
demo:
	@scripts/demo
test:
	@scripts/test
setup:
	@scripts/setup
