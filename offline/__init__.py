"""The offline plan: run each stack's program, exactly as written, under the Pulumi SDK's mock engine.

Nothing here talks to a cloud. What the cloud would have answered (account id, zone ids, resource ids,
endpoints) is simulated by offline.simulated_cloud and labelled as such in every plan.
"""
