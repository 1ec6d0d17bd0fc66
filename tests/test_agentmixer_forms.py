"""AgentMixer's joint-policy forms (issue 12): exact re-scoring, IGC, the product policy at initialisation, the
authors' form as a product policy on a one-state game, the temperature schedules, and the errors for sizes or
combinations that cannot work."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
from agentmixer_jax.config import HParams, TrainConfig
from agentmixer_jax.policies.agentmixer import AgentMixerJoint, scheduled_tau
from agentmixer_jax.registry import make_policy
from agentmixer_jax.trainer import make_train
from envs.core import Box, Discrete, EnvSpec

SPEC = EnvSpec(num_agents=3, obs_dim=4, state_dim=5, action_space=Discrete(3))
MASK = jnp.array([[True] * 3, [True, False, True], [True] * 3])  # agent 1 may not take action 1
HP = HParams().as_floats()
DISCRETE_FORMS = ("authors", "joint", "autoregressive")  # the gumbel form's re-scoring: tests/test_policy.py
CONTINUOUS = EnvSpec(num_agents=2, obs_dim=3, state_dim=4, action_space=Box(-1.0, 1.0, 2))


def _perturbed(tree, scale=0.5, seed=7):
    """The tree with every leaf moved randomly (so a zero-initialised PM output layer does something)."""
    leaves, td = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree.unflatten(td, [p + scale * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


def _setup(form, spec=SPEC, mask=MASK, perturb=0.5, **cfg):
    policy = make_policy("agentmixer", spec, TrainConfig(algo="agentmixer", pm_form=form, **cfg))
    params = policy.init(jax.random.PRNGKey(0))
    if perturb:
        params = dict(params, pm=_perturbed(params["pm"], scale=perturb))
    obs = jax.random.normal(jax.random.PRNGKey(1), (spec.num_agents, spec.obs_dim))
    state = jax.random.normal(jax.random.PRNGKey(2), (spec.state_dim,))
    _, out = policy.actor_step(params, policy.initial_hidden(), obs, mask, jnp.bool_(True))
    return policy, params, out, state


def _spread(out, scale=1000.0):
    """`out` with its individual logits scaled apart. At initialisation they lie within 1e-4 of each other (the
    head's gain is 0.01), while a PM perturbed at scale 1 outputs terms near 1e3, whose float32 rounding (1e-4)
    is as large: a decode that subtracts the PM term at the reference is then exact only up to that rounding,
    and which of two near-tied modes it picks depends on how XLA compiles it (the level, the CPU)."""
    return out.replace(head=out.head * scale)


def _all_joint_actions(n, a):
    return jnp.asarray(np.stack(np.unravel_index(np.arange(a ** n), (a,) * n), -1), jnp.int32)


def _joint_log_probs(policy, params, out, state, mask):
    """log p(a) of every joint action through `evaluate` (J,)."""
    joint = _all_joint_actions(policy.num_agents, policy.action_dim)
    return joint, jax.jit(jax.vmap(lambda a: policy.evaluate(params, out, state, mask, a, (), HP)[0][0]))(joint)


@pytest.mark.parametrize("form, arch", [(f, "mixer") for f in DISCRETE_FORMS] + [("authors", "authors")])
def test_each_form_rescores_its_own_samples_exactly_and_sums_to_one(form, arch):
    policy, params, out, state = _setup(form, pm_arch=arch)
    keys = jax.random.split(jax.random.PRNGKey(4), 64)
    steps = jax.jit(jax.vmap(lambda k: policy.act(params, out, state, MASK, k, HP)))(keys)
    assert not np.any(np.asarray(steps.action[:, 1]) == 1)  # masked actions are never sampled
    score = jax.jit(jax.vmap(lambda a, x: policy.evaluate(params, out, state, MASK, a, x, HP)[0][0]))
    np.testing.assert_allclose(score(steps.action, steps.extras), steps.log_prob[:, 0], rtol=1e-5, atol=1e-5)
    # every joint action scored: a distribution over the A ** N joint actions, nothing on masked actions
    joint = _all_joint_actions(3, 3)
    p = np.exp(np.asarray(score(joint, ()), np.float64))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-4)
    assert p[np.asarray(joint[:, 1] == 1)].max() < 1e-12


@pytest.mark.parametrize("form", ("joint", "autoregressive"))
def test_joint_form_at_initialisation_is_the_product_of_the_individual_policies(form):
    policy, params, out, state = _setup(form, perturb=0.0)
    joint, logp = _joint_log_probs(policy, params, out, state, MASK)
    ind = jax.nn.log_softmax(out.head, -1)
    product = jnp.sum(ind[jnp.arange(3), joint], -1)
    ok = np.asarray(joint[:, 1] != 1)
    np.testing.assert_allclose(np.asarray(logp)[ok], np.asarray(product)[ok], rtol=1e-4, atol=1e-4)
    # and once the PM is perturbed it is not a product any more (the test above could fail)
    policy, params, out, state = _setup(form, perturb=0.05)
    params = dict(params, **({"pm_head": _perturbed(params["pm_head"], 0.5)} if "pm_head" in params else {}))
    _, logp = _joint_log_probs(policy, params, out, state, MASK)
    assert np.abs(np.asarray(logp)[ok] - np.asarray(product)[ok]).max() > 1e-2


@pytest.mark.parametrize("form", ("joint", "autoregressive"))
def test_factor_ratios_are_the_chain_rule_factors_of_the_joint(form):
    """pm_ratio='factors': act and evaluate give (N,) log p(a_i | a_<i), equal to differences of the joint's prefix
    marginals computed here by brute force over every joint action; they sum to the joint log-probability the
    default (pm_ratio='joint') scores, and the entropy bonus (the mean over the K entries) is the joint's."""
    policy, params, out, state = _setup(form, pm_ratio="factors")
    params = dict(params, **({"pm_head": _perturbed(params["pm_head"], 0.5)} if "pm_head" in params else {}))
    joint_policy = make_policy("agentmixer", SPEC, TrainConfig(algo="agentmixer", pm_form=form))
    assert not policy.joint_ratio and joint_policy.joint_ratio
    assert policy.policy_advantage(jnp.ones((7, 3))).shape == (7, 3)
    joint, logp = _joint_log_probs(joint_policy, params, out, state, MASK)
    p = np.exp(np.asarray(logp, np.float64))
    steps = jax.jit(jax.vmap(lambda k: policy.act(params, out, state, MASK, k, HP)))(
        jax.random.split(jax.random.PRNGKey(5), 64))
    assert steps.log_prob.shape == (64, 3)
    scored, entropy, _, _ = jax.jit(jax.vmap(lambda a, x: policy.evaluate(params, out, state, MASK, a, x, HP)))(
        steps.action, steps.extras)
    np.testing.assert_allclose(scored, steps.log_prob, rtol=1e-5, atol=1e-5)
    joint_np = np.asarray(joint)
    for a, factors in zip(np.asarray(steps.action), np.asarray(scored)):
        prefix = [np.log(p[np.all(joint_np[:, :i + 1] == a[:i + 1], 1)].sum()) for i in range(3)]
        np.testing.assert_allclose(factors, np.diff([0.0, *prefix]), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(factors.sum(), np.log(p[np.all(joint_np == a, 1)][0]), rtol=1e-4, atol=1e-4)
    _, joint_entropy, _, _ = joint_policy.evaluate(params, out, state, MASK, steps.action[0],
                                                   jax.tree.map(lambda x: x[0], steps.extras), HP)
    np.testing.assert_allclose(entropy[0], jnp.full((3,), joint_entropy[0]), rtol=1e-5, atol=1e-6)
    # the test can fail: a product of the individual policies' log-probabilities is not the chain rule here
    ind = np.asarray(jax.nn.log_softmax(out.head, -1))
    a = np.asarray(steps.action[0])
    assert np.abs(np.asarray(scored[0]) - ind[np.arange(3), a]).max() > 1e-2


def test_factor_ratios_are_rejected_where_they_cannot_work():
    with pytest.raises(ValueError, match="pm_ratio='factors' clips the chain-rule factors of pm_form='joint' or "
                                         "'autoregressive' trained by PPO"):
        TrainConfig(algo="agentmixer_authors", pm_form="authors", pm_ratio="factors").validate()
    with pytest.raises(ValueError, match="pm_ratio='factors' clips"):
        TrainConfig(algo="agentmixer_sac", pm_form="joint", pm_ratio="factors").validate()
    with pytest.raises(ValueError, match="pm_ratio='each': choose joint or factors"):
        TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_ratio="each").validate()
    TrainConfig(algo="agentmixer_ar", pm_form="autoregressive", pm_ratio="factors").validate()


def test_marginal_distillation_targets_the_joints_marginals():
    """joint_distill='marginal': the target of agent i is sum over the others' actions of p(a), checked by brute force
    over every joint action; the loss is distill_coef x KL(marginal || pi_i) averaged over agents; at
    initialisation (the joint a product) the marginals are the individual policies and the loss is 0."""
    hp = HP.replace(distill_coef=jnp.float32(0.7))
    policy, params, out, state = _setup("joint", perturb=0.05, joint_distill="marginal")  # a joint spread out
    joint, logp = _joint_log_probs(policy, params, out, state, MASK)
    p = np.exp(np.asarray(logp, np.float64))
    brute = np.stack([[p[np.asarray(joint[:, i] == a)].sum() for a in range(3)] for i in range(3)])
    target = np.asarray(policy.distill_target(policy.joint_logits(params, out, state, MASK)[0], 0), np.float64)
    np.testing.assert_allclose(target, brute, rtol=1e-4, atol=1e-6)
    assert target[1, 1] < 1e-12  # masked
    ind = np.asarray(jax.nn.log_softmax(out.head, -1), np.float64)
    want = 0.7 * np.sum(brute * (np.log(np.maximum(brute, 1e-30)) - ind)) / 3
    loss = policy.evaluate(params, out, state, MASK, joint[0], (), hp)[2]
    np.testing.assert_allclose(loss, want, rtol=1e-4)
    # the mode's conditionals are another target (the check can fail)
    mode_policy = make_policy("agentmixer", SPEC, TrainConfig(algo="agentmixer", pm_form="joint"))
    assert abs(float(mode_policy.evaluate(params, out, state, MASK, joint[0], (), hp)[2]) - want) > 1e-3
    # at initialisation
    policy, params, out, state = _setup("joint", perturb=0.0, joint_distill="marginal")
    target = policy.distill_target(policy.joint_logits(params, out, state, MASK)[0], 0)
    np.testing.assert_allclose(target, jax.nn.softmax(out.head, -1) * MASK / jnp.sum(
        jax.nn.softmax(out.head, -1) * MASK, -1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(policy.evaluate(params, out, state, MASK, joint[0], (), hp)[2], 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="joint_distill='marginal' distils onto the marginals of pm_form='joint'"):
        TrainConfig(algo="agentmixer_ar", pm_form="autoregressive", joint_distill="marginal").validate()


def _empirical_joint(form, perturb, samples=40_000, arch="mixer"):
    """Empirical joint distribution (A, A) of two agents' sampled actions on a one-state game, and its marginals."""
    spec = EnvSpec(num_agents=2, obs_dim=3, state_dim=4, action_space=Discrete(3))
    mask = jnp.ones((2, 3), bool)
    policy, params, out, state = _setup(form, spec=spec, mask=mask, perturb=perturb, pm_arch=arch)
    hp = HP.replace(gumbel_tau=jnp.float32(1.0))
    acts = jax.jit(jax.vmap(lambda k: policy.act(params, out, state, mask, k, hp).action))(
        jax.random.split(jax.random.PRNGKey(3), samples))
    counts = np.zeros((3, 3))
    np.add.at(counts, (np.asarray(acts[:, 0]), np.asarray(acts[:, 1])), 1)
    joint = counts / samples
    return joint, np.outer(joint.sum(1), joint.sum(0))


@pytest.mark.parametrize("arch", ["mixer", "authors"])
def test_authors_form_is_a_product_policy_on_a_one_state_game(arch):
    """Their PM never sees the other agents' samples: with one state, the agents' actions are independent."""
    joint, product = _empirical_joint("authors", perturb=2.0, arch=arch)
    assert np.abs(joint - product).max() < 0.01  # sampling noise per cell at 40k samples: std < 0.0025
    # the check can fail: the joint form does correlate the agents (a small perturbation of its PM, whose outputs
    # add up over the J joint actions, keeps the joint from a point mass)
    joint, product = _empirical_joint("joint", 0.05)
    assert np.abs(joint - product).max() > 0.02


def test_authors_form_bias_is_their_deterministic_gumbel_shape():
    """z_i = (log pi_i + G_i) / tau with G = -log(-log(y sigmoid(gain b))) (action_attention.py `forward`)."""
    policy, params, out, state = _setup("authors")
    hp = HP.replace(pm_y=jnp.float32(0.5), pm_gain=jnp.float32(0.3), gumbel_tau=jnp.float32(0.7))
    b = policy.pm.apply({"params": params["pm"]}, policy.pm_features(out, None, state, MASK))
    u = 0.5 / (1 + np.exp(-0.3 * np.asarray(b, np.float64)))
    want = (np.asarray(jax.nn.log_softmax(out.head, -1)) - np.log(-np.log(u))) / 0.7
    got = policy.mixed_logits(params, out, state, MASK, hp)
    np.testing.assert_allclose(np.asarray(got)[np.asarray(MASK)], want[np.asarray(MASK)], rtol=1e-4, atol=1e-4)


def test_authors_continuous_form_is_normal_around_the_individual_means_with_their_scale():
    """Normal(individual means, y sigmoid(gain b)) (matrix_runner.py `collect`, FixedNormal(logits, action_std))."""
    mask = jnp.array([[True, True], [True, False]])
    policy, params, out, state = _setup("authors", spec=CONTINUOUS, mask=mask)
    hp = HP.replace(pm_y=jnp.float32(0.75), pm_gain=jnp.float32(0.3))
    b = policy.pm.apply({"params": params["pm"]}, policy.pm_features(out, None, state, mask))
    dist = policy.joint_distribution(params, out, state, mask, hp)
    want = 0.75 / (1 + np.exp(-0.3 * np.asarray(b)))
    np.testing.assert_allclose(np.asarray(dist.stddev()).reshape(2, 2)[np.asarray(mask)],
                               want[np.asarray(mask)], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(dist.mean()).reshape(2, 2)[np.asarray(mask)],
                               np.asarray(out.head)[np.asarray(mask)], rtol=1e-6)
    step = policy.act(params, out, state, mask, jax.random.PRNGKey(5), hp)
    np.testing.assert_allclose(policy.evaluate(params, out, state, mask, step.action, step.extras, hp)[0],
                               step.log_prob, rtol=1e-5)


def test_joint_form_distillation_makes_the_individual_modes_the_joint_mode():
    """IGC by distillation: minimising only the KL term moves each individual mode onto the joint's mode."""
    spec = EnvSpec(num_agents=2, obs_dim=3, state_dim=4, action_space=Discrete(3))
    mask = jnp.ones((2, 3), bool)
    policy, params, _, state = _setup("joint", spec=spec, mask=mask, perturb=0.0)
    obs = jax.random.normal(jax.random.PRNGKey(1), (2, 3))

    def modes(params):
        _, out = policy.actor_step(params, policy.initial_hidden(), obs, mask, jnp.bool_(True))
        return policy.mode(params, out, mask), policy.joint_greedy(params, out, state, mask)

    def kl(actor, params):
        p = dict(params, actor=actor)
        _, out = policy.actor_step(p, policy.initial_hidden(), obs, mask, jnp.bool_(True))
        return policy.evaluate(p, out, state, mask, jnp.zeros(2, jnp.int32), (), HP)[2]

    # a PM that favours a joint action where both agents differ from their individual modes
    ind, _ = modes(params)
    target = (ind + 1) % 3
    bias = jnp.zeros(9).at[int(target[0]) * 3 + int(target[1])].set(3.0)
    params = dict(params, pm={**params["pm"], "out": {**params["pm"]["out"], "bias": bias}})
    ind, joint = modes(params)
    np.testing.assert_array_equal(joint, target)
    assert not np.any(ind == joint)
    opt = optax.adam(1e-2)

    def step(carry, _):
        actor, opt_state = carry
        upd, opt_state = opt.update(jax.grad(kl)(actor, params), opt_state)
        return (optax.apply_updates(actor, upd), opt_state), None

    (actor, _), _ = jax.lax.scan(step, (params["actor"], opt.init(params["actor"])), None, length=200)
    ind, joint = modes(dict(params, actor=actor))
    np.testing.assert_array_equal(ind, joint)
    np.testing.assert_array_equal(joint, target)  # the individuals moved, not the joint


def test_autoregressive_form_with_igc_exact_decodes_the_individual_modes():
    """igc_exact: the joint's greedy decode is the tuple of individual modes whatever the PM, and the conditionals
    still depend on the earlier agents' actions (the PM does something)."""
    policy, params, out, state = _setup("autoregressive", igc_exact=True, perturb=1.0)
    params = dict(params, pm_head=_perturbed(params["pm_head"], 1.0))
    out = _spread(out)
    np.testing.assert_array_equal(policy.joint_greedy(params, out, state, MASK), policy.mode(params, out, MASK))
    x = policy.context(params, out, state, MASK)
    z0 = policy.logits(params, out, x, MASK, jnp.array([0, 0, 0]))
    z1 = policy.logits(params, out, x, MASK, jnp.array([2, 0, 0]))
    np.testing.assert_allclose(z0[0], z1[0])  # agent 0 reads no earlier action
    assert np.abs(np.asarray(z0[1] - z1[1]))[np.asarray(MASK[1])].max() > 1e-3  # agent 1 reads agent 0's


def test_autoregressive_hard_distillation_is_the_cross_entropy_to_the_joint_decode():
    """ar_distill=hard (the agentmixer_ar default): each individual policy is pulled toward its part of the joint's
    greedy decode, -mean_i log pi_i(m_i); with the smoothed reference the decode may differ from the individual
    modes (IGC is then measured, not built in), and the loss says so."""
    policy, params, out, state = _setup("autoregressive", igc_exact=True, ar_reference="probs", ar_distill="hard",
                                        perturb=1.0)
    params = dict(params, pm_head=_perturbed(params["pm_head"], 1.0))
    out = _spread(out)
    decode = policy.joint_greedy(params, out, state, MASK)
    aux = policy.evaluate(params, out, state, MASK, decode, (), HP)[2]
    logp = jax.nn.log_softmax(out.head, -1)
    np.testing.assert_allclose(aux, -jnp.mean(logp[jnp.arange(3), decode]), rtol=1e-5)
    assert int(decode[0]) == int(jnp.argmax(out.head[0]))  # the first agent's conditional is its own policy


@pytest.mark.parametrize("form", ["joint", "authors"])
def test_pm_dropout_acts_by_the_product_on_dropped_steps_and_rescores_each_step_under_its_own_policy(form):
    policy, params, out, state = _setup(form, pm_dropout=0.5)
    keys = jax.random.split(jax.random.PRNGKey(4), 2000)
    steps = jax.jit(jax.vmap(lambda k: policy.act(params, out, state, MASK, k, HP)))(keys)
    dropped = np.asarray(steps.extras)
    assert 0.45 < dropped.mean() < 0.55  # the draw is stored with the step
    np.testing.assert_allclose(np.asarray(steps.metrics["pm_dropped"]), dropped)
    score = jax.jit(jax.vmap(lambda a, x: policy.evaluate(params, out, state, MASK, a, x, HP)[0][0]))
    np.testing.assert_allclose(score(steps.action, steps.extras), steps.log_prob[:, 0], rtol=1e-5, atol=1e-5)
    # dropped steps are scored by the product of the individual policies, kept steps by the joint (which the
    # perturbed PM makes differ from the product, so this could fail)
    ind = np.asarray(jax.nn.log_softmax(out.head, -1))
    product = ind[np.arange(3), np.asarray(steps.action)].sum(-1)
    lp = np.asarray(steps.log_prob[:, 0])
    np.testing.assert_allclose(lp[dropped], product[dropped], rtol=1e-4, atol=1e-4)
    assert np.abs(lp[~dropped] - product[~dropped]).max() > 1e-2
    if form == "authors":  # no distillation term: the clone term (igc_coef) reads the individual policy alone
        return
    # the distillation target is the joint's, dropped or not
    one = steps.action[0]
    aux_kept = policy.evaluate(params, out, state, MASK, one, jnp.bool_(False), HP)[2]
    aux_dropped = policy.evaluate(params, out, state, MASK, one, jnp.bool_(True), HP)[2]
    np.testing.assert_allclose(float(aux_kept), float(aux_dropped), rtol=1e-6)


def _rollout_draws(per: str, form: str) -> tuple[np.ndarray, np.ndarray]:
    """(dropped (T, E), episode start (T, E)) of one PPO rollout on the bridge with pm_dropout 0.5 drawn per `per`."""
    from agentmixer_jax.trainer import Trainer
    algo = {"joint": "agentmixer_joint", "authors": "agentmixer_authors"}[form]
    cfg = TrainConfig(algo=algo, pm_form=form, pm_dropout=0.5, pm_dropout_per=per, num_envs=16, num_steps=150,
                      total_env_steps=16 * 150, pm_channels=8, pm_channel_hidden=8, pm_token_hidden=4,
                      pm_arch="mixer")
    trainer = Trainer(envs.make("bridge"), cfg)
    state = trainer.init(jax.random.PRNGKey(3), HParams())
    _, traj, _, metrics = jax.jit(trainer.learner.rollout)(state.learner, state.hp)
    return np.asarray(traj.extras), np.asarray(traj.start)


@pytest.mark.parametrize("form", ["joint", "authors"])
def test_pm_dropout_per_episode_holds_one_draw_for_each_whole_episode(form):
    dropped, start = _rollout_draws("episode", form)
    episodes = np.cumsum(start, 0)  # (T, E) episode number of each step within its env
    draws = []
    for e in range(dropped.shape[1]):
        for k in np.unique(episodes[:, e]):
            steps = dropped[episodes[:, e] == k, e]
            assert np.all(steps == steps[0]), f"env {e}, episode {k}: the draw changed within the episode"
            draws.append(steps[0])
    assert len(draws) >= 60  # the rollout spans many bridge episodes (<= 25 steps each)
    assert 0.3 < np.mean(draws) < 0.7  # and each episode is drawn afresh with probability 0.5


def test_pm_dropout_per_step_changes_the_draw_within_episodes():
    """The contrast to the test above (the draw is shared code, so one form shows that its check can fail): per
    step, the default, the same rollout's draws change within episodes."""
    dropped, _ = _rollout_draws("step", "joint")
    assert 0.45 < dropped.mean() < 0.55
    assert np.mean(dropped[1:] != dropped[:-1]) > 0.3


def test_pm_dropout_is_rejected_where_it_cannot_work():
    with pytest.raises(ValueError, match="pm_dropout=1.0: a probability in"):
        TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_dropout=1.0).validate()
    with pytest.raises(ValueError, match="pm_dropout=0.5 belongs to pm_form='joint' or 'authors'"):
        TrainConfig(algo="agentmixer", pm_form="gumbel", pm_dropout=0.5).validate()
    TrainConfig(algo="agentmixer_authors", pm_form="authors", pm_dropout=0.5).validate()  # discrete: allowed
    with pytest.raises(ValueError, match="pm_form='authors' needs discrete actions"):
        make_policy("agentmixer_authors", CONTINUOUS, TrainConfig(algo="agentmixer_authors", pm_form="authors",
                                                                 pm_dropout=0.5))
    with pytest.raises(ValueError, match="pm_dropout=0.5 belongs to"):
        TrainConfig(algo="agentmixer_sac", pm_form="joint", pm_dropout=0.5).validate()
    with pytest.raises(ValueError, match="pm_dropout_per='episode' draws pm_dropout once per episode, but "
                                         "pm_dropout=0: set pm_dropout"):
        TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_dropout_per="episode").validate()
    with pytest.raises(ValueError, match="pm_dropout_per='sometimes': choose step or episode"):
        TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_dropout=0.5, pm_dropout_per="sometimes").validate()


def test_joint_mode_breaks_ties_toward_the_individual_policies():
    policy = AgentMixerJoint(EnvSpec(num_agents=2, obs_dim=3, state_dim=4, action_space=Discrete(2)),
                             TrainConfig(algo="agentmixer", pm_form="joint"))
    z = jnp.array([0.0, 5.0, 4.9, 0.0])  # joint actions (0,1) and (1,0) nearly tied
    base = jnp.array([0.0, -3.0, -0.1, 0.0])  # the individuals prefer (1, 0)
    assert int(policy.joint_mode(z, base, jnp.float32(0.0))) == 1
    assert int(policy.joint_mode(z, base, jnp.float32(0.2))) == 2


def test_temperature_schedules_follow_the_authors_formulas():
    tau, f, n = jnp.float32(1.0), jnp.float32(1.5), 151
    at = lambda s, u: float(scheduled_tau(tau, f, s, jnp.int32(u), n))  # noqa: E731
    assert at("constant", 50) == 1.0
    assert at("cosine", 0) == pytest.approx(1.0)
    assert at("cosine", 100) == pytest.approx(0.05, abs=1e-4)  # the floor after (U - 1) / f updates ...
    assert at("cosine", 150) == pytest.approx(0.05 + 0.95 * 0.5, abs=1e-4)  # ... then back up, as theirs does
    assert at("linear", 20) == pytest.approx(1.0 - 20 * 1.5 / 151, abs=1e-5)
    assert at("linear", 140) == pytest.approx(0.05)
    assert at("step", 25) == pytest.approx(0.99 ** 2)


def test_trainer_applies_the_temperature_schedule():
    cfg = TrainConfig(algo="agentmixer_authors", pm_form="authors", num_envs=8, num_steps=1, total_env_steps=8 * 10,
                      num_minibatches=1, update_epochs=1, tau_schedule="linear")
    train = make_train(envs.make("climbing"), cfg)
    metrics = jax.jit(train)(jax.random.PRNGKey(0), HParams(gumbel_tau=1.0, tau_decay=1.0)).metrics
    np.testing.assert_allclose(metrics["gumbel_tau"], np.maximum(1.0 - np.arange(10) / 10, 0.05), rtol=1e-5)


def test_trainer_applies_the_distillation_and_pm_dropout_schedules():
    """distill_schedule='linear' moves the weight from distill_coef_start at the first update to distill_coef at the
    last; the constant schedule records no weight and uses distill_coef throughout. pm_dropout_end moves the
    pm_dropout rate linearly from pm_dropout at the first update to pm_dropout_end at the last: at 1 every step of
    the last update is acted by the individual policies; pm_dropout_hold delays that move. Bad settings fail before
    compiling."""
    cfg = TrainConfig(algo="agentmixer_joint", pm_form="joint", num_envs=256, num_steps=1, total_env_steps=256 * 10,
                      num_minibatches=1, update_epochs=1, distill_schedule="linear", pm_dropout=0.25,
                      pm_dropout_end=1.0)
    hp = HParams(distill_coef=1.0, distill_coef_start=0.1)
    metrics = jax.jit(make_train(envs.make("climbing"), cfg))(jax.random.PRNGKey(0), hp).metrics
    np.testing.assert_allclose(metrics["distill_coef"], 0.1 + 0.9 * np.arange(10) / 9, rtol=1e-5)
    dropped = np.asarray(metrics["pm_dropped"])
    assert dropped[-1] == 1.0
    np.testing.assert_allclose(dropped, 0.25 + 0.75 * np.arange(10) / 9, atol=0.1)  # 256 draws: 3.2 std errors
    # pm_dropout_hold: the rate stays at pm_dropout for that fraction of training, then moves to pm_dropout_end
    held = make_policy("agentmixer_joint", envs.make("climbing").spec(),
                       dataclasses.replace(cfg, pm_dropout_hold=0.5))
    rates = [float(held.schedule_hparams(hp, jnp.int32(u)).pm_dropout_now) for u in range(10)]
    np.testing.assert_allclose(rates, 0.25 + 0.75 * np.clip((np.arange(10) / 9 - 0.5) / 0.5, 0, 1), rtol=1e-6)
    assert rates[4] == 0.25 and rates[5] > 0.25 and rates[9] == 1.0
    const = make_train(envs.make("climbing"), dataclasses.replace(cfg, distill_schedule="constant"))
    assert "distill_coef" not in jax.eval_shape(const, jax.random.PRNGKey(0), hp).metrics
    with pytest.raises(ValueError, match="distill_schedule.*joint"):
        TrainConfig(algo="agentmixer_authors", pm_form="authors", distill_schedule="linear").validate()
    for end, pm_dropout in ((1.5, 0.5), (-0.1, 0.5), (1.0, 0.0)):
        with pytest.raises(ValueError, match="pm_dropout_end=.*a probability in \\[0, 1\\]"):
            TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_dropout=pm_dropout,
                        pm_dropout_end=end).validate()
    for hold, end in ((0.5, None), (1.0, 1.0), (-0.2, 1.0)):
        with pytest.raises(ValueError, match="pm_dropout_hold=.*in \\[0, 1\\), and only with pm_dropout_end"):
            TrainConfig(algo="agentmixer_joint", pm_form="joint", pm_dropout=0.5, pm_dropout_end=end,
                        pm_dropout_hold=hold).validate()


def test_impossible_forms_and_sizes_are_rejected_before_compiling():
    with pytest.raises(ValueError, match="pm_joint_max.*autoregressive|autoregressive.*pm_joint_max"):
        make_train(envs.make("protoss_5v5"), TrainConfig(algo="agentmixer", pm_form="joint"))
    with pytest.raises(ValueError, match="continuous"):
        TrainConfig(algo="agentmixer", pm_form="joint").validate_for(CONTINUOUS)
    with pytest.raises(ValueError, match="pm_form"):
        TrainConfig(algo="agentmixer_joint", pm_form="authors").validate()
    with pytest.raises(ValueError, match="pm_form"):
        TrainConfig(algo="agentmixer", pm_form="nope").validate()
    with pytest.raises(ValueError, match="ar_distill"):
        TrainConfig(algo="agentmixer", ar_distill="nope").validate()
    with pytest.raises(ValueError, match="igc_exact"):
        TrainConfig(algo="agentmixer", pm_form="joint", igc_exact=True).validate()
    with pytest.raises(ValueError, match="covariance"):
        dataclasses.replace(TrainConfig(algo="agentmixer", pm_form="authors"), covariance="full").validate()
