"""The torch networks of the built-in model families (``gpt.GPT``, ``vit.ViT``).

Importing this package imports no torch; the family modules (``flops_fit.families``) build these
networks for a run, and ``flops_fit.accounting`` holds their torch-free shapes and counts.
"""
