"""Quality: capacity-controlled BetaVAE on the embedded shapes dataset — does KL follow C(t)?

Usage: python benchmarks/capacity_shapes.py [--steps 3000] [--capacity-steps 2000] [--c-max 25]

Trains ``kv.BetaVAE(capacity_max=C_max, capacity_steps=N, gamma=1000)`` (conv 32-32-64-64,
latent 10, Adam 5e-4, batch 64, as in Burgess et al. 2018 but a shorter run) and every
--every steps measures the mean KL of a fixed batch of 1,000 held-out images against C at
that step. Prints the table and the largest |KL - C| after the first --warmup steps.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402


class TrackKL(keras.callbacks.Callback):
    def __init__(self, images, every):
        super().__init__()
        self.images, self.every, self.rows = images, every, []

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0:
            kl = float(np.sum(self.model.kl_per_dimension(self.images)))
            c = float(self.model.capacity(step))
            self.rows.append((step, c, kl))
            print(f"{step:>6} {c:>8.2f} {kl:>8.2f} {kl - c:>+8.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--capacity-steps", type=int, default=2000)
    parser.add_argument("--c-max", type=float, default=25.0)
    parser.add_argument("--gamma", type=float, default=1000.0)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    train = kv.data.load("shapes", split="train", batch_size=64, seed=args.seed).repeat()
    held_out = next(iter(kv.data.load("shapes", split="test", batch_size=1000)))
    model = kv.BetaVAE(input_shape=(64, 64, 1), latent_dim=10, architecture="conv",
                       filters=(32, 32, 64, 64), capacity_max=args.c_max,
                       capacity_steps=args.capacity_steps, gamma=args.gamma, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(5e-4))
    tracker = TrackKL(held_out, args.every)
    print(f"{'step':>6} {'C(t)':>8} {'KL':>8} {'KL-C':>8}", flush=True)
    start = time.perf_counter()
    model.fit(train, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[tracker])
    seconds = time.perf_counter() - start
    after = [abs(kl - c) for step, c, kl in tracker.rows if step > args.warmup]
    print(f"\n{args.steps} steps in {seconds:.0f} s; max |KL - C| after step {args.warmup}: "
          f"{max(after):.2f} nats, mean {np.mean(after):.2f} (target: within 2)")


if __name__ == "__main__":
    main()
