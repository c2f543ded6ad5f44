"""Training: config resolution, the one trainer loop, checkpoints and run directories."""
