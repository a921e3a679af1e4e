"""The simulated health system: deterministic generators and loopback stand-ins."""
