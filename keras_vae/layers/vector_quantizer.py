"""Vector quantization with straight-through gradients (van den Oord et al. 2017).

Every vector of the encoder's map ``z_e`` (``[..., D]``) is replaced by its nearest code
``e_k`` of a learned codebook ``[K, D]``. Distances use ``|z|^2 + |e|^2 - 2 z.e``: one
``[N, K]`` matrix for the ``N`` vectors of a batch, never an ``[N, K, D]`` difference.

The codebook learns either by gradient (the codebook loss ``|sg[z_e] - e|^2``) or, with
``ema_decay``, by exponential moving averages of the vectors assigned to each code
(no codebook gradient). Under a distribution strategy the counts and sums behind every
codebook update are summed across replicas, so each replica keeps the same codebook.
"""

import keras
import tensorflow as tf

from keras_vae.distribute import all_reduce_sum
from keras_vae.distribute import gather_global
from keras_vae.distribute import global_size
from keras_vae.validation import check_int
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


def code_statistics(counts):
    """``(perplexity, usage)`` of code counts ``[K]``: ``exp(entropy)`` of the code
    distribution (K when uniform, 1 when one code takes everything) and the fraction of codes
    used at least once.

    >>> import numpy as np
    >>> [round(float(v), 4) for v in code_statistics(np.array([5.0, 5.0, 0.0, 0.0]))]
    [2.0, 0.5]
    """
    counts = tf.cast(counts, tf.float32)
    probs = counts / tf.maximum(tf.reduce_sum(counts), 1.0)
    entropy = -tf.reduce_sum(tf.math.xlogy(probs, probs))
    return tf.exp(entropy), tf.reduce_mean(tf.cast(counts > 0, tf.float32))


@keras.saving.register_keras_serializable(package="keras_vae")
class VectorQuantizer(keras.layers.Layer):
    """Quantizes ``[..., embedding_dim]`` vectors to the nearest of ``num_embeddings`` codes.

    The output passes gradients straight through: ``quantized = z_e + sg[e - z_e]`` equals the
    codes in the forward pass and has the identity as its gradient with respect to ``z_e``.

    Losses, per example (summed over the example's grid positions and the D channels):
    ``codebook_loss = |sg[z_e] - e|^2`` (trains the codebook; without gradient, and left out
    of ``vq_loss``, when ``ema_decay`` is set) and ``commitment_loss = |z_e - sg[e]|^2``
    (weighted by ``commitment_cost`` in ``vq_loss``).

    EMA updates (``ema_decay`` set), per training call, with ``n_k`` the number of vectors
    assigned to code k and ``s_k`` their sum (both summed across replicas)::

        N_k <- decay * N_k + (1 - decay) * n_k        m_k <- decay * m_k + (1 - decay) * s_k
        N'_k = (N_k + eps) / (sum(N) + K * eps) * sum(N)   (Laplace smoothing)
        e_k = m_k / N'_k

    ``eps`` keeps ``N'_k`` positive for a code that has not been used. The counts start at one
    per code and the sums at the initial codebook, so an unused code keeps its vector (it
    decays slowly towards zero) rather than being divided by a tiny count.

    Dead codes (``dead_code_steps`` set): a code no vector chose for that many consecutive
    training calls is re-seeded with an encoder output of the current batch (drawn at random
    from the whole global batch under a strategy, so every replica picks the same vectors, the
    ones one device would pick).

    Args:
        num_embeddings: K, the codebook size.
        embedding_dim: D, the size of each code; the input's last axis must match it.
        commitment_cost: beta, the weight of the commitment loss (0.25 in the paper).
        ema_decay: ``None`` to learn the codebook by gradient, or the EMA decay in (0, 1)
            (0.99 is common).
        epsilon: Laplace smoothing of the EMA counts.
        dead_code_steps: Re-seed codes unused for this many training calls (``None``: never).
        seed: Seed for the choice of re-seeding vectors.

    Call arguments:
        inputs: ``z_e``, ``[batch, ..., embedding_dim]``.
        training: Update the EMA codebook and dead-code counters (training only).

    Returns:
        A dict of per-example outputs: ``quantized`` (like ``inputs``), ``codes`` (int32,
        ``inputs.shape[:-1]``), ``codebook_loss``, ``commitment_loss``, ``vq_loss``
        (``[batch]`` each). The batch's perplexity and usage come from
        :meth:`batch_statistics`.

    Example:

    >>> import numpy as np
    >>> vq = VectorQuantizer(num_embeddings=4, embedding_dim=2)
    >>> out = vq(np.zeros((3, 5, 5, 2), "float32"))
    >>> tuple(out["quantized"].shape), tuple(out["codes"].shape)
    ((3, 5, 5, 2), (3, 5, 5))

    References:
        van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning",
        NeurIPS 2017 (EMA updates in its appendix A.1).
    """

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        commitment_cost=0.25,
        ema_decay=None,
        epsilon=1e-5,
        dead_code_steps=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.commitment_cost = check_number("commitment_cost", commitment_cost, minimum=0.0)
        if ema_decay is not None:
            ema_decay = check_number("ema_decay", ema_decay, minimum=0.0, exclusive=True)
            if ema_decay >= 1.0:
                raise ValueError(f"`ema_decay` must be in (0, 1). Received: ema_decay={ema_decay}")
        self.ema_decay = ema_decay
        self.epsilon = check_number("epsilon", epsilon, minimum=0.0, exclusive=True)
        self.dead_code_steps = (
            None if dead_code_steps is None else check_int("dead_code_steps", dead_code_steps, 1)
        )
        self.seed = check_seed(seed)

        shape = (self.num_embeddings, self.embedding_dim)
        # State that every replica computes identically (from all-reduced statistics) is
        # written by the first replica and mirrored. None of it is autocast under mixed
        # precision: distances and EMA updates use the float32 values.
        state = dict(trainable=False, aggregation="only_first_replica", autocast=False)
        self.embeddings = self.add_weight(
            shape=shape,
            initializer=keras.initializers.VarianceScaling(distribution="uniform", seed=self.seed),
            trainable=self.ema_decay is None,
            name="embeddings",
            aggregation="only_first_replica",
            autocast=False,
        )
        if self.ema_decay is not None:
            self.ema_counts = self.add_weight(shape=(self.num_embeddings,), initializer="ones",
                                              name="ema_counts", **state)
            self.ema_sums = self.add_weight(shape=shape, initializer="zeros", name="ema_sums",
                                            **state)
            self.ema_sums.assign(self.embeddings)
        if self.dead_code_steps is not None:
            self.unused_steps = self.add_weight(shape=(self.num_embeddings,),
                                                initializer="zeros", name="unused_steps", **state)
            self.num_resets = self.add_weight(shape=(), initializer="zeros", name="num_resets",
                                              **state)
        self.built = True

    # ------------------------------------------------------------------ quantization
    def check_inputs(self, inputs):
        if inputs.shape.rank is None or inputs.shape.rank < 2:
            raise ValueError(
                f"VectorQuantizer expects inputs [batch, ..., {self.embedding_dim}]; received "
                f"shape {tuple(inputs.shape)}."
            )
        if inputs.shape[-1] is not None and inputs.shape[-1] != self.embedding_dim:
            raise ValueError(
                f"The encoder output has {inputs.shape[-1]} channels but the codebook's "
                f"embedding_dim is {self.embedding_dim}: they must match (the last axis of "
                "z_e is quantized)."
            )

    #: Candidates of the fast distance pass that :meth:`nearest` measures again exactly.
    NEAREST_CANDIDATES = 8

    def distances(self, flat):
        """Squared distances ``[N, K]`` from vectors ``[N, D]`` to every code, by the
        expanded form ``|x|^2 - 2 x.e + |e|^2`` (one matrix product) after centring both on
        the codebook's mean (distances do not change under a shift, and the terms shrink)."""
        codebook = tf.cast(self.embeddings, tf.float32)
        centre = tf.reduce_mean(codebook, axis=0, keepdims=True)
        flat, codebook = flat - centre, codebook - centre
        return (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, codebook, transpose_b=True)
            + tf.reduce_sum(codebook**2, axis=1)[None, :]
        )

    def nearest(self, flat):
        """Index of the nearest code for each vector of ``[N, D]``, int32 ``[N]``.

        The expanded form of :meth:`distances` cancels in float32 when vectors are far from
        the origin relative to their distances (at |z| = 1e3 a quarter of the picks of the
        plain form are wrong), so its best :data:`NEAREST_CANDIDATES` codes are measured
        again as ``sum((x - e)^2)``, which has no cancellation, and the nearest of those is
        taken: exact to float32 rounding unless the true nearest code is not among them.
        """
        distances = self.distances(flat)
        k = min(self.NEAREST_CANDIDATES, self.num_embeddings)
        _, candidates = tf.math.top_k(-distances, k=k)  # [N, k]
        codebook = tf.cast(self.embeddings, tf.float32)
        exact = tf.reduce_sum((flat[:, None, :] - tf.gather(codebook, candidates)) ** 2,
                              axis=2)
        best = tf.argmin(exact, axis=1, output_type=tf.int32)
        return tf.gather(candidates, best, batch_dims=1)

    def lookup(self, codes):
        """The code vectors of an integer grid: ``codes.shape + [embedding_dim]``."""
        return tf.gather(tf.cast(self.embeddings, self.compute_dtype), codes)

    def call(self, inputs, training=False):
        inputs = tf.convert_to_tensor(inputs)
        self.check_inputs(inputs)
        z_e = tf.cast(inputs, tf.float32)  # distances and losses in float32
        flat = tf.reshape(z_e, [-1, self.embedding_dim])
        flat_codes = self.nearest(flat)
        codes = tf.reshape(flat_codes, tf.shape(z_e)[:-1])
        e = tf.gather(tf.cast(self.embeddings, tf.float32), codes)

        axes = list(range(1, z_e.shape.rank))
        codebook_loss = tf.reduce_sum((tf.stop_gradient(z_e) - e) ** 2, axis=axes)
        commitment_loss = tf.reduce_sum((z_e - tf.stop_gradient(e)) ** 2, axis=axes)
        vq_loss = self.commitment_cost * commitment_loss
        if self.ema_decay is None:
            vq_loss = vq_loss + codebook_loss
        else:
            codebook_loss = tf.stop_gradient(codebook_loss)

        if training:
            one_hot = tf.one_hot(flat_codes, self.num_embeddings, dtype=tf.float32)
            counts = all_reduce_sum(tf.reduce_sum(one_hot, axis=0))
            sums = None
            if self.ema_decay is not None:
                sums = all_reduce_sum(tf.matmul(one_hot, flat, transpose_a=True))
            self._update_codebook(counts, sums, flat)

        quantized = z_e + tf.stop_gradient(e - z_e)  # straight-through estimator
        return {
            "quantized": tf.cast(quantized, inputs.dtype),
            "codes": codes,
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
            "vq_loss": vq_loss,
        }

    def batch_statistics(self, codes):
        """``(perplexity, codebook_usage)`` of a batch of code grids (int, any shape), over
        the global batch under a strategy: batch statistics, which a model reports through
        its metrics (the layer's own outputs are per example)."""
        one_hot = tf.one_hot(tf.reshape(codes, [-1]), self.num_embeddings, dtype=tf.float32)
        return code_statistics(all_reduce_sum(tf.reduce_sum(one_hot, axis=0)))

    # ------------------------------------------------------------------ codebook updates
    def _update_codebook(self, counts, sums, flat):
        """EMA step (if enabled), then dead-code re-seeding (if enabled)."""
        if self.ema_decay is not None:
            decay = self.ema_decay
            ema_counts = decay * self.ema_counts + (1.0 - decay) * counts
            ema_sums = decay * self.ema_sums + (1.0 - decay) * sums
            total = tf.reduce_sum(ema_counts)
            smoothed = (ema_counts + self.epsilon) / (total + self.num_embeddings * self.epsilon)
            smoothed = smoothed * total
            self.ema_counts.assign(ema_counts)
            self.ema_sums.assign(ema_sums)
            self.embeddings.assign(ema_sums / smoothed[:, None])
        if self.dead_code_steps is not None:
            self._reset_dead_codes(counts, flat)

    def _reset_dead_codes(self, counts, flat):
        unused = tf.where(counts > 0, 0.0, self.unused_steps + 1.0)
        dead = unused >= float(self.dead_code_steps)
        # Fresh vectors from this (global) batch: a stateless draw keyed by the seed and the
        # number of resets so far, of rows of the whole global batch, so every replica picks
        # the same vectors, and the ones one device would pick.
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32),
                         tf.cast(self.num_resets, tf.int32)])
        rows = tf.random.stateless_uniform(
            [self.num_embeddings], seed=seed, maxval=global_size(flat), dtype=tf.int32
        )
        candidates = gather_global(flat, rows)
        codebook = tf.cast(self.embeddings, tf.float32)
        self.embeddings.assign(tf.where(dead[:, None], candidates, codebook))
        if self.ema_decay is not None:
            self.ema_sums.assign(tf.where(dead[:, None], candidates, self.ema_sums))
            self.ema_counts.assign(tf.where(dead, 1.0, self.ema_counts))
        self.unused_steps.assign(tf.where(dead, 0.0, unused))
        self.num_resets.assign_add(tf.reduce_sum(tf.cast(dead, tf.float32)))

    def set_codebook(self, vectors):
        """Replaces the codebook (e.g. with k-means centres); EMA state follows."""
        vectors = tf.convert_to_tensor(vectors, tf.float32)
        expected = (self.num_embeddings, self.embedding_dim)
        if tuple(vectors.shape) != expected:
            raise ValueError(
                f"The codebook must have shape {expected}; received {tuple(vectors.shape)}."
            )
        self.embeddings.assign(vectors)
        if self.ema_decay is not None:
            self.ema_sums.assign(vectors)
            self.ema_counts.assign(tf.ones_like(self.ema_counts))

    def compute_output_spec(self, inputs, training=False):
        batch = inputs.shape[0]
        per_example = keras.KerasTensor((batch,), "float32")
        return {
            "quantized": keras.KerasTensor(inputs.shape, inputs.dtype),
            "codes": keras.KerasTensor(inputs.shape[:-1], "int32"),
            "codebook_loss": per_example,
            "commitment_loss": per_example,
            "vq_loss": per_example,
        }

    def get_config(self):
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "commitment_cost": self.commitment_cost,
            "ema_decay": self.ema_decay,
            "epsilon": self.epsilon,
            "dead_code_steps": self.dead_code_steps,
            "seed": self.seed,
        }


def kmeans(vectors, num_clusters, iterations=20, seed=0):
    """Lloyd's k-means on ``[N, D]`` vectors; returns ``[num_clusters, D]`` centres.

    Starts from ``num_clusters`` distinct random vectors (with replacement if there are fewer);
    a centre that loses all its vectors keeps its place.

    >>> import numpy as np
    >>> pts = np.array([[0.0], [0.1], [10.0], [10.1]], "float32")
    >>> sorted(round(float(c), 2) for c in kmeans(pts, 2, seed=0)[:, 0])
    [0.05, 10.05]
    """
    vectors = tf.convert_to_tensor(vectors, tf.float32)
    n = int(vectors.shape[0])
    num_clusters = check_positive_int("num_clusters", num_clusters)
    if n == 0:
        raise ValueError("k-means needs at least one vector.")
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[seed, 0])
    if n >= num_clusters:
        start = tf.gather(order, tf.range(num_clusters))
    else:
        start = tf.random.stateless_uniform([num_clusters], [seed, 1], maxval=n, dtype=tf.int32)
    centres = tf.gather(vectors, start)
    for _ in range(iterations):
        dist = (tf.reduce_sum(vectors**2, 1, keepdims=True)
                - 2.0 * tf.matmul(vectors, centres, transpose_b=True)
                + tf.reduce_sum(centres**2, 1)[None])
        assign = tf.one_hot(tf.argmin(dist, axis=1), num_clusters)
        counts = tf.reduce_sum(assign, axis=0)
        sums = tf.matmul(assign, vectors, transpose_a=True)
        centres = tf.where(counts[:, None] > 0, sums / tf.maximum(counts, 1.0)[:, None], centres)
    return centres
