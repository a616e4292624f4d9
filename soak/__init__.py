"""The randomized fault soak, a correctness check in three rooms: ``plan`` (the seeded
faults), ``judge`` (the pure verdict over one history) and ``run`` (the runner on a real
ensemble). ``python -m soak`` runs it; ``make soak`` runs ten minutes.
"""
