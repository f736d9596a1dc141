"""Model zoo and registry: FC, Spiking-CNN1/2, VGG-5/11/16 as SNN and ANN.
(Issue 4; nothing here yet.)"""
