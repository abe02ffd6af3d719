"""``rife-train``: train and fine-tune IFNet "HD v3" (DESIGN §3.1), on one process or many (torchrun).

network (the trainable model and its teacher), loss, triplets/videos (data), augment, sampler
(which sample at which step), optim (AdamW, schedule, precision), checkpoint (run files), progress
(terminal line, JSON-lines log), validate (held-back PSNR), distributed (torchrun placement and the
process group), stop (Ctrl+C between steps), loop (the session). See docs/train.md.
"""
