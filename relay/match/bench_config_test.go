package match

import "flag"

var benchBudget = flag.Int("match.stepbudget", 0, "Config.StepBudget of BenchmarkTick (0: the default)")

// benchConfig is c with the benchmarks' StepBudget.
func benchConfig(c Config) Config {
	c.StepBudget = *benchBudget
	return c
}
