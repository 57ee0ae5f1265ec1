#!/usr/bin/env python3
"""Redo three SAC updates of `mbc` in PyTorch and compare.

Reads what `SACReferenceDump` (Tests/LearningTests/SACReferenceDumpTests.swift) wrote into DIR: the initial
actor, critics and target critics (our layout: weight in x out, row-major), three minibatches with the noise
each update draws (next actions, then the actor's sample), and our gradients and weights after each update.
Runs the same updates with torch autograd and torch.optim.Adam (Haarnoja et al. 2018: clipped double-Q target,
tanh-squashed Gaussian with the log-prob correction, automatic temperature with target entropy -|A|, Polyak
targets) and prints the largest difference of every gradient relative to its largest entry.
Exit status 1 when any exceeds 1e-4 (float32 summation order gives ~1e-6).

    python3 scripts/sac-update-vs-pytorch.py DIR
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

D = sys.argv[1] + "/"
OBS, ACT, B, H = 46, 12, 256, 256
LR, GAMMA, TAU = 3e-4, 0.99, 0.005


def load(name, shape=None):
    t = torch.tensor(np.fromfile(D + name + ".bin", dtype=np.float32))
    return t.reshape(shape) if shape else t


def network(prefix, widths, offset=0):
    params = []
    for i in range(len(widths) - 1):
        params.append(load(f"{prefix}{offset + 2 * i}", (widths[i], widths[i + 1])).clone().requires_grad_())
        params.append(load(f"{prefix}{offset + 2 * i + 1}").clone().requires_grad_())
    return params


def forward(params, x):
    n = len(params) // 2
    for i in range(n):
        x = x @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            x = torch.relu(x)
    return x


critic_widths = [OBS + ACT, H, H, 1]
actor = network("actor", [OBS, H, H, 2 * ACT])
q1, q2 = network("critic", critic_widths), network("critic", critic_widths, 6)
t1, t2 = network("target", critic_widths), network("target", critic_widths, 6)
log_alpha = torch.zeros(1, requires_grad=True)
actor_opt, critic_opt = torch.optim.Adam(actor, LR), torch.optim.Adam(q1 + q2, LR)
alpha_opt = torch.optim.Adam([log_alpha], LR)


def sample(obs, eps):
    out = forward(actor, obs)
    mu, log_std = out[:, :ACT], out[:, ACT:].clamp(-20, 2)
    u = mu + log_std.exp() * eps
    log_prob = (-0.5 * eps ** 2 - log_std - 0.5 * math.log(2 * math.pi)
                - 2 * (math.log(2) - u - F.softplus(-2 * u))).sum(1)
    return torch.tanh(u), log_prob


worst = 0.0


def compare(step, what, params, prefix):
    global worst
    for k, p in enumerate(params):
        ours = load(f"{prefix}{step}_{k}", tuple(p.shape))
        rel = float((ours - p.grad).abs().max() / (p.grad.abs().max() + 1e-12))
        worst = max(worst, rel)
        print(f"update {step} {what} gradient {k} {tuple(p.shape)}: max relative difference {rel:.2e}")


for step in range(3):
    obs, act = load(f"obs{step}", (B, OBS)), load(f"act{step}", (B, ACT))
    rew, nxt, term = load(f"rew{step}"), load(f"next{step}", (B, OBS)), load(f"term{step}")
    eps_next, eps_actor = load(f"n1_{step}", (B, ACT)), load(f"n2_{step}", (B, ACT))
    alpha = log_alpha.exp().detach()
    with torch.no_grad():
        a2, lp2 = sample(nxt, eps_next)
        x2 = torch.cat([nxt, a2], 1)
        y = rew + GAMMA * (1 - term) * (torch.min(forward(t1, x2), forward(t2, x2)).squeeze(1) - alpha * lp2)
    x = torch.cat([obs, act], 1)
    critic_loss = 0.5 * ((forward(q1, x).squeeze(1) - y) ** 2).mean() + 0.5 * ((forward(q2, x).squeeze(1) - y) ** 2).mean()
    critic_opt.zero_grad()
    critic_loss.backward()
    compare(step, "critic", q1 + q2, "criticgrad")
    critic_opt.step()
    a, lp = sample(obs, eps_actor)
    xa = torch.cat([obs, a], 1)
    actor_loss = (alpha * lp - torch.min(forward(q1, xa), forward(q2, xa)).squeeze(1)).mean()
    actor_opt.zero_grad()
    actor_loss.backward()
    compare(step, "actor", actor, "actorgrad")
    actor_opt.step()
    alpha_loss = -(log_alpha * (lp.detach() - ACT)).mean()
    alpha_opt.zero_grad()
    alpha_loss.backward()
    alpha_opt.step()
    with torch.no_grad():
        for p, t in zip(q1 + q2, t1 + t2):
            t.mul_(1 - TAU).add_(TAU * p)
    stats = load(f"stats{step}")
    print(f"update {step}: critic loss {stats[0]:.6g} (PyTorch {float(critic_loss):.6g}), actor loss {stats[1]:.6g} "
          f"(PyTorch {float(actor_loss):.6g}), alpha {stats[4]:.6g} (PyTorch {float(log_alpha.exp()):.6g})")

print(f"largest relative gradient difference: {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
