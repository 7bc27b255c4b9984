import socket, sys, time
port=int(sys.argv[1]); n=int(sys.argv[2]); socks=[]
pre=b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"+b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
for i in range(n):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(pre); socks.append(s)
time.sleep(1.5)
for s in socks:
    s.setblocking(False)
    try: s.recv(65536)
    except Exception: pass
print(open(sys.argv[3]).read().split("VmRSS:")[1].split("\n")[0].strip())
