"""Inline Pulumi programs used by the stand-in tests."""

from __future__ import annotations

import pulumi

SECRET_OUTPUT = "out-secret-Qz8v"


def pet_and_bucket() -> None:
    """A RandomPet, a GCP bucket, config-driven and secret exports."""
    import pulumi_gcp
    import pulumi_random

    cfg = pulumi.Config()
    pet = pulumi_random.RandomPet("pet", length=2)
    bucket = pulumi_gcp.storage.Bucket(
        "raw", name=cfg.require("bucket"), location="EU", labels={"env": pulumi.get_stack()}
    )
    pulumi.export("pet_id", pet.id)
    pulumi.export("bucket_name", bucket.name)
    pulumi.export("bucket_id", bucket.id)
    pulumi.export("count", 3)
    pulumi.export("token", cfg.require_secret("token"))
    pulumi.export("literal_secret", pulumi.Output.secret(SECRET_OUTPUT))


def pet_only() -> None:
    """Only the RandomPet (the bucket from :func:`pet_and_bucket` goes away)."""
    import pulumi_random

    pet = pulumi_random.RandomPet("pet", length=2)
    pulumi.export("pet_id", pet.id)


def one_pet() -> None:
    """The smallest program: one resource, one export."""
    import pulumi_random

    pet = pulumi_random.RandomPet("pet")
    pulumi.export("pet_id", pet.id)


def three_pets() -> None:
    """Three sequential resources (for slow/interrupted updates)."""
    import pulumi_random

    first = pulumi_random.RandomPet("a")
    second = pulumi_random.RandomPet("b", prefix=first.id)
    third = pulumi_random.RandomPet("c", prefix=second.id)
    pulumi.export("last", third.id)


def failing() -> None:
    """Registers one resource, then raises."""
    import pulumi_random

    pulumi_random.RandomPet("before-failure")
    raise ValueError("boom from the program")


def secret_only() -> None:
    """Exports one literal secret and nothing else."""
    pulumi.export("literal_secret", pulumi.Output.secret(SECRET_OUTPUT))


def protected_pet() -> None:
    """A protected resource."""
    import pulumi_random

    pulumi_random.RandomPet("keep", opts=pulumi.ResourceOptions(protect=True))


def empty() -> None:
    """Registers nothing but the stack."""


def object_config() -> None:
    """Reads structured config set with ``--path`` and exports parts of it."""
    cfg = pulumi.Config()
    data = cfg.require_secret_object("data")
    pulumi.export("region", data.apply(lambda d: d["region"]))
    pulumi.export("sizes", data.apply(lambda d: d["sizes"]))


def component_tree() -> None:
    """A component with a child, and a log line."""

    class Holder(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("demo:index:Holder", name)
            import pulumi_random

            self.pet = pulumi_random.RandomPet("inner", opts=pulumi.ResourceOptions(parent=self))
            self.register_outputs({"pet": self.pet.id})

    holder = Holder("outer")
    pulumi.log.info("hello from the program")
    pulumi.export("inner", holder.pet.id)
