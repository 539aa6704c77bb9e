"""Everything that builds a step's buffer: prompts in, scored rollout groups out.

Owns `task_sampler.py` (the step's prompts), `rollout.py` (`Rollout`, token-exact thoughts and
resets; `Roller`, batched generation), `scoring.py` (verification overlapped with generation),
`infra.py` (sandbox failures kept apart from wrong answers), `buffer.py` (`BufferBuilder`: base
group, seed search, reset groups, fallback), `graph.py` (the buffer with every prompt's chain as
its own task, sampling.batching=graph), `localize.py` (SRPO's self-localization prompt) and
`values.py` (Monte-Carlo state values: VinePPO, the MC oracle).

May import: `envs` (rules, transitions, verifiers), `codereset.generation` (backends),
`codereset.agents.base` (the agent interface), `codereset.run.schema` / `codereset.run.timing`
(row keys, phase timers) and `codereset.learn.advantages` (its `STD_EPS`). Never the update or the
trainer. Nothing is imported here: import the modules themselves.
"""
