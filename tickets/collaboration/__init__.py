"""Working a ticket together: @mentions, followers, links, split, side conversations."""
