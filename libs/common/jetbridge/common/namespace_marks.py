"""What the Pilot writes on an Airflow Deployment's namespace, and the agent reads back.

The Pilot creates one namespace per Deployment (CREATE_NAMESPACE); the agent lists
them to report its cluster's inventory (the Deployments it holds). Both sides import
these names from here so they cannot drift apart.
"""

from __future__ import annotations

# Label on every object the Pilot makes: the Deployment's DNS-safe fold (naming.py),
# which for a long or unusual id carries a hash and is not the id itself.
DEPLOYMENT_LABEL = "jetbridge.io/deployment"
# The Deployment id exactly as the control plane knows it.
DEPLOYMENT_ID_ANNOTATION = "jetbridge.io/deployment-id"
# How its DAGs and code arrive: the Pilot only brings up image-based Deployments.
DEPLOY_MECHANISM_ANNOTATION = "jetbridge.io/deploy-mechanism"
# The fencing epoch of the flight that last created or took over a namespace: a
# clean-up from an older mission must not delete a copy a newer one brought up.
EPOCH_ANNOTATION = "jetbridge.io/fencing-epoch"
