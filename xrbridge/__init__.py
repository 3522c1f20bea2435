"""xrbridge: sealant inspection results on the car underbody, in mixed reality."""

__version__ = "0.1.0"
