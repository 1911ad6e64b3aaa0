"""The handoff to a human agent: the context packet, personal-data masking and the desk's internal client."""
