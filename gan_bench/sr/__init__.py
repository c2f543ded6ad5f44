"""Super-resolution conventions as the published tables use them: MATLAB bicubic ``imresize``,
BT.601 Y channel with MATLAB's coefficients, PSNR/SSIM on Y with border crop = scale, and NIQE."""
