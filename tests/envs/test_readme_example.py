"""The README's standalone-gym example, run as written (keep the two in sync)."""


def test_readme_standalone_gym_example():
    # --- README example starts here ---
    import gymnasium as gym

    import envs  # registers ThoughtMDP-Code-v0 and ThoughtMDP-Math-v0

    env = gym.make("ThoughtMDP-Math-v0", tasks="arith", split="test")
    obs, info = env.reset(seed=0)  # obs: instruction + worked example + problem (plain text)
    task = env.unwrapped.task

    def policy(observation: str, thoughts_so_far: int) -> str:
        """Stand-in for a language model: return the next thought, ending with "</thought>".
        (A real agent generates from `observation` and stops at the stop pattern.)"""
        return task.reference[thoughts_so_far]

    states = []
    done = False
    while not done:
        states.append(env.unwrapped.get_state())  # immutable, hashable, JSON-serializable
        obs, reward, terminated, truncated, info = env.step(policy(obs, info["n_thoughts"]))
        done = terminated or truncated
    print(reward, info["outcome"])  # 1.0 {'reward': 1.0, 'correct': True, 'status': 'ok', ...}

    # A reset: re-enter the state after the first thought and try a different continuation.
    obs, info = env.unwrapped.reset_to(states[1])
    wrong = "The answer is \\boxed{0}.</thought>"
    obs, reward2, terminated, truncated, info = env.step(wrong)
    print(reward2, env.unwrapped.first_error())  # 0.0 1: thought 1 (0-based) is the first wrong one

    # States survive JSON, e.g. to resume elsewhere.
    saved = states[1].to_json()
    obs, info = env.reset(options={"state": envs.ThoughtState.from_json(saved)})
    env.close()
    # --- README example ends here ---
    assert reward == 1.0 and info["n_thoughts"] == 1
    assert reward2 == 0.0 and terminated
    assert len(task.reference) >= 2  # the example resets after the first thought
