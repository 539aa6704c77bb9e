"""Exact, tabular checks of the method's theory (issue 7, part 1); numpy only except `pg`.

Modules: `mdp` (layered MDPs with 0/1 terminal reward: exact Q/V/occupancy, improvable states,
samplers), `family` (the Thought-MDP family: chains of thoughts, some fatal; its step oracle),
`cpi` (sample-based CPI-RR and CPI-CARO), `localizers` (perfect / noisy / random reset
localizers for the family), `pg` (GRPO / RRPO / SRPO-style updates on a softmax tabular policy;
imports torch for the project's group advantage).
"""
