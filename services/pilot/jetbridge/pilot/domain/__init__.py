"""The Pilot's pure domain: what to do next with a claimed flight, what a step's outcome
reports, and how an Airflow Deployment looks as Kubernetes objects. No I/O here."""
