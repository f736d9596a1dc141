"""ANN-to-SNN hybrid conversion (Rathi et al., ICLR 2020). (Issue 7; nothing here yet.)"""
