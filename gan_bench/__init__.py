"""gan_bench: standardized GAN reimplementations under fixed budgets, scored by one harness."""

__version__ = "0.1.0"
