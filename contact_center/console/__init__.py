"""What agents pick and paste in the console: wrap-up codes (dispositions, contact reasons, away reasons)
and canned replies with placeholders. Administrators keep the lists; agents read them."""
