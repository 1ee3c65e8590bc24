"""The skill-based routing engine: a library of its own that imports nothing from the rest of the project.

Tasks wait in queues ordered by effective priority; agents with the skills, language and free capacity get
offers (reservations) that they accept or reject, or that time out; waiting tasks escalate over time.
"""
