"""Standalone studies run with ``python -m prefzoo.benchmarks.studies.<name>``; no suite imports them:
speed and memory of the engine (``speed``, ``sampling_speed``, ``ppo_memory``, on the shapes of
``model_shapes``; ``device_check`` runs them as one prepared GPU run), the shared-budget sweep
(``budget_sweep``), reward models on the policies' samples (``reward_on_policies``), salmon-rm's
relabelling rule on a bandit (``principle_bandit``), the GRPO variants' differences from TRL 1.16
(``trl_rl_agreement``) and REINFORCE++'s from OpenRLHF's code (``openrlhf_agreement``)."""
