"""rife_live.evaluate: quality measurement as the frame-interpolation literature does it (``rife-eval``).

``datasets`` reads the benchmark layouts of the original RIFE scripts and any video; ``methods`` are
the ways to make in-between frames (the network, blend, repeat, FFmpeg's minterpolate); ``metrics``
scores them (PSNR, SSIM, IE); ``runner`` ties them together for the CLI.
"""
