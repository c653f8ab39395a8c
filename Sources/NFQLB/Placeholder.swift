import Balancer
