"""Matplotlib without a display: the one place that selects the backend and writes PNGs."""


def pyplot():
    """``matplotlib.pyplot``; on the Agg backend (works without a display) unless pyplot is in
    use already, whose backend then stays: switching it would stop a notebook's inline
    figures from showing after the first PNG written here."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, dpi=100):
    """Writes ``fig`` to ``path`` as PNG (replacing an earlier file only when complete),
    closes it, and returns ``path``."""
    from keras_vae import outputs

    try:
        with outputs.replacing(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        pyplot().close(fig)
    return path
