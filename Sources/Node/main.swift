print("chorus-node")
