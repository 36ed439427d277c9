"""Matplotlib without a display: the one place that selects the backend and writes PNGs."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (works without a display)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, dpi=100):
    """Writes ``fig`` to ``path`` as PNG, closes it, and returns ``path``."""
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
