"""Variation-aware training methods (SGD, noise injection, WVAT, HA-SGD, SAM, AWP,
adversarial regularisation, SWA) and the Trainer. (Issue 5; nothing here yet.)"""
