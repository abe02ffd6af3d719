"""``rife-train``: train and fine-tune IFNet "HD v3", on one process or many (torchrun); docs/train.md.

network (the trainable model and its teacher), loss, triplets/videos (data), augment, sampler
(which sample at which step), optim (AdamW, schedule, precision), checkpoint (run files), progress
(terminal line, JSON-lines log), validate (held-back PSNR), distributed (torchrun placement and the
process group), loop (the session; a stop signal ends it between steps, ``rife_live.signals.polled``).
"""
