"""Datasets: MNIST, Fashion-MNIST, CIFAR-10/100, N-MNIST (tonic) and the embedded
digits. (Issue 3; nothing here yet.)"""
