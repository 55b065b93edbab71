"""optimstep: step a PyTorch optimizer and prove each update against its published rule."""

__version__ = "0.1.0"
