{{ fusion_posted_lines() }}
