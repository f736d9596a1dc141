"""Monte-Carlo evaluation under variation, spike statistics, loss landscapes and
reports. (Issue 6; nothing here yet.)"""
