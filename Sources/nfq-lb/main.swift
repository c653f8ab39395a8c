print("nfq-lb")
