"""Wall-clock seconds per 1,000 env steps of mbrl-lib 0.2.0's MBPO (mbrl.algorithms.mbpo.train) with the sizes of
`configs/mbpo-quadruped.yaml`: ensemble 7 members / 5 elites, 4 x 200 SiLU, batch 256, holdout 20 %, patience 5,
lr 1e-3; refit every 250 env steps; 400 rollouts per env step (100,000 per refit); rollout schedule [20, 100, 1, 25];
SAC 2 x 256, batch 256, lr 3e-4, automatic entropy, 20 updates per env step, 5 % real data; 5,000 initial
exploration steps. The environment is Gymnasium's MuJoCo Ant-v5 without contact forces (27 observations, 8 actions; ours: 46 and 12).

The initial exploration (5,000 steps of the untrained policy) is timed apart and subtracted: the figure is the
time of `--steps` MBPO env steps (model refits, rollouts, SAC updates, the env) scaled to 1,000.
Usage: OMP_NUM_THREADS=1 taskset -c 1 /tmp/peers/bin/python scripts/mbpo-speed-vs-mbrl.py --steps 1000
(whole epochs of 1,000 env steps: mbrl's loop checks its budget once per epoch)
Prints one JSON line. mbrl 0.2.0: pip install --no-deps mbrl==0.2.0 omegaconf hydra-core termcolor tqdm.
"""
import argparse
import json
import os
import sys
import tempfile
import time

for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(v, "1")

import gymnasium as gym
import numpy as np
import omegaconf
import torch

import mbrl
import mbrl.algorithms.mbpo as mbpo
import mbrl.env.termination_fns as term_fns
import mbrl.util.common


def config(steps, seed):
    return omegaconf.OmegaConf.create({
        "seed": seed, "device": "cpu", "log_frequency_agent": 10**9, "save_video": False, "debug_mode": False,
        "algorithm": {
            "name": "mbpo", "dataset_size": steps + 6000, "normalize": True, "normalize_double_precision": True, "target_is_delta": True,
            "learned_rewards": True, "freq_train_model": 250, "real_data_ratio": 0.05, "sac_samples_action": True,
            "initial_exploration_steps": 5000, "random_initial_explore": False, "num_eval_episodes": 1,
            "agent": {
                "_target_": "mbrl.third_party.pytorch_sac_pranz24.sac.SAC", "num_inputs": 27,
                # Ant's action box [-1, 1]^8 written out: current gymnasium's Box refuses the lists mbrl would fill in
                "action_space": {"_target_": "gymnasium.spaces.Box", "low": -1.0, "high": 1.0, "shape": [8]},
                "args": {"gamma": 0.99, "tau": 0.005, "alpha": 0.2, "policy": "Gaussian", "target_update_interval": 1,
                         "automatic_entropy_tuning": True, "target_entropy": -1, "hidden_size": 256, "device": "cpu",
                         "lr": 3e-4},
            },
        },
        "dynamics_model": {
            "_target_": "mbrl.models.GaussianMLP", "_recursive_": False, "device": "cpu", "num_layers": 4, "in_size": "???", "out_size": "???",
            "ensemble_size": 7, "hid_size": 200, "deterministic": False, "propagation_method": "random_model",
            "learn_logvar_bounds": False, "activation_fn_cfg": {"_target_": "torch.nn.SiLU"},
        },
        "overrides": {
            "env": "ant", "num_steps": steps, "epoch_length": 1000, "num_elites": 5, "patience": 5, "model_lr": 1e-3,
            "model_wd": 5e-5, "model_batch_size": 256, "validation_ratio": 0.2, "freq_train_model": 250,
            "effective_model_rollouts_per_step": 400, "rollout_schedule": [20, 100, 1, 25],
            "num_sac_updates_per_step": 20, "sac_updates_every_steps": 1, "num_epochs_to_retain_sac_buffer": 1,
            "sac_batch_size": 256,
        },
    })


def run(steps, seed):
    env = gym.make("Ant-v5", include_cfrc_ext_in_observation=False)       # 27 observations (z first), 8 actions
    test_env = gym.make("Ant-v5", include_cfrc_ext_in_observation=False)
    env.reset(seed=seed)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        mbpo.train(env, test_env, term_fns.ant, config(steps, seed), silent=True, work_dir=work)
        return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    # mbrl's loop checks its budget once per epoch (1,000 env steps), so it runs whole epochs
    a.steps = max(1000, -(-a.steps // 1000) * 1000)
    torch.set_num_threads(1)
    base = run(0, a.seed)           # set-up and the 5,000 exploration steps only
    full = run(a.steps, a.seed)     # the same plus `steps` MBPO env steps
    print(json.dumps({"measure": "mbrl_mbpo_seconds_per_1000_env_steps", "steps": a.steps,
                      "seconds_per_1000_env_steps": (full - base) * 1000 / a.steps, "exploration_seconds": base,
                      "torch": torch.__version__, "mbrl": mbrl.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
