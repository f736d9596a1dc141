"""Spiking layers: neurons (LIF, IF), surrogate gradients, encoders, readouts and
the loop over time; snntorch and norse adapters. (Issue 4; nothing here yet.)"""
