"""Image references against the installation's one container registry.

The spec: one registry endpoint per installation, configured on the control plane, and
every data plane pulls Airflow images from it (different registries per region are not
supported). So the control plane, not each data plane, decides what a Deployment's
image resolves to: a bare reference (``apache/airflow:3.0.2``) is served by the
installation's registry, and a reference naming another registry cannot be pulled
there. Flights carry the qualified reference; a Pilot runs it as given and refuses a
bare one. Pure functions, shared by both planes so they read references alike.
"""

from __future__ import annotations


def registry_of(image: str) -> str | None:
    """The registry host an image reference names, or None for a bare one.

    Docker's rule: the first path component is a host when it has a dot or a port, or
    is ``localhost``; ``apache/airflow`` and ``airflow`` name no host.
    """
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def served_by(image: str, registry: str) -> bool:
    """Whether the installation's registry can serve this image ("": no registry set)."""
    host = registry_of(image)
    return not registry or host is None or host == registry


def qualified(image: str, registry: str) -> str:
    """The reference a data plane pulls: bare ones prefixed with the registry.

    An empty image, an empty registry, or one naming a host stays as it is (eligibility
    refuses a foreign host before any flight is planned).
    """
    if not image or not registry or registry_of(image) is not None:
        return image
    return f"{registry}/{image}"
